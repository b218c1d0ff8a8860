"""A plan's hours: measured where the workload finished on the device, scaled by MACs from the nearest workload of its
family measured there, else assumed; estimated on the device the runs will run on; each estimate says which, from
what."""
import pytest, torch
from zscore_kd.models import count_macs, get_model
from zscore_kd.rundir import RunDir, environment
from zscore_kd.sweeps import plan, plan_table, plan_summary, run_local
from zscore_kd.campaign import plans_for, campaign_summary

def by_row(planned: list, out_dir) -> dict:
    return {r['row']: r for r in plan_table(planned, out_dir)}

def test_kd_and_mlkd_are_estimated_from_one_measured_kd_run(tmp_path):
    planned = plan('main_T2', out_dir=str(tmp_path), device='cpu')
    kd = next(p.config for p in planned if p.cell.row == 'KD')
    run_local([kd])  # its teacher's run, then KD alone
    rows = by_row(planned, str(tmp_path))
    # resnet8 -> resnet8: KD costs 3 + 1 resnet8 forwards per image, MLKD twice that (two views)
    assert rows['MLKD']['hours'] / rows['KD']['hours'] == pytest.approx(2)
    assert rows['KD']['images_per_s'] == pytest.approx(RunDir(kd).result()['train_images_per_s'])
    here = f"measured on {environment()['hardware']}"
    assert (rows['KD']['speed'], rows['MLKD']['speed']) == (here, f'scaled from kd resnet8→resnet8 {here}')
    assert rows['KD+Ours']['speed'] == here  # the same workload

def test_a_vit_student_is_estimated_by_its_macs(tmp_path):
    vit = next(p for p in plan('supp_T4', out_dir=str(tmp_path), device='cpu') if p.cell.row == 'KD')
    cnn = next(p for p in plan('main_T2', out_dir=str(tmp_path), device='cpu') if p.cell.row == 'KD')
    rows = plan_table([vit, cnn], str(tmp_path))  # the same images and epochs; nothing measured: both assumed
    r8 = count_macs(get_model('resnet8'))
    v = count_macs(get_model(vit.config.student, **vit.config.student_args), (3, 32, 32))
    assert rows[0]['hours'] / rows[1]['hours'] == pytest.approx((3 * v + r8) / (4 * r8))
    assert rows[0]['speed'].startswith('assumed from kd resnet8→resnet8 at 880 img/s')

def test_a_plan_is_estimated_on_the_device_it_will_run_on(tmp_path):
    cpu = plans_for('main_T4', out_dir=str(tmp_path), device='cpu')
    s, p = campaign_summary(cpu, str(tmp_path)), plan_summary(cpu['main_T4'], str(tmp_path))
    assert s['device'] == p['device'] == [environment()['hardware']] and s['hours_left'] > 0
    assert s['hours_left'] == pytest.approx(p['hours_left'])
    assert s['speed_here'] == (f"{s['left']} assumed; assumed from kd resnet8→resnet8 at 880 img/s, measured on this "
                               "project's 2-core AMD EPYC machine (one thread, torch 2.14)")
    assert "the fast path's goal on one H200" in s['speed'] and s['h200_1'] < s['hours']
    if torch.cuda.is_available(): return
    gpu = campaign_summary(plans_for('main_T4', out_dir=str(tmp_path), device='cuda'), str(tmp_path))
    assert gpu['device'] == ['NVIDIA H200'] and gpu['hours'] == pytest.approx(gpu['h200_1'])  # planned here, for a GPU
