"""Package metadata comes from settings.ini (nbdev 2); no pkg_resources, so it builds under current setuptools."""
from configparser import ConfigParser
import setuptools

parser = ConfigParser(delimiters=['='])
parser.read('settings.ini', encoding='utf-8')
cfg = parser['DEFAULT']

required = 'lib_name version description keywords author author_email license min_python git_url'.split()
missing = [k for k in required if k not in cfg]
if missing: raise SystemExit(f"settings.ini lacks {', '.join(missing)}; add them under [DEFAULT].")

spdx = {'apache2': 'Apache-2.0', 'mit': 'MIT'}[cfg['license'].lower()]
setuptools.setup(
    name=cfg['lib_name'], version=cfg['version'], description=cfg['description'],
    keywords=cfg['keywords'], author=cfg['author'], author_email=cfg['author_email'],
    license=spdx, url=cfg['git_url'],
    classifiers=['Programming Language :: Python :: 3', 'Intended Audience :: Science/Research',
                 'Topic :: Scientific/Engineering :: Artificial Intelligence'],
    packages=setuptools.find_packages(include=[cfg['lib_path'], cfg['lib_path'] + '.*']),
    include_package_data=True,
    package_data={cfg['lib_path']: ['published/*.csv']},  # the paper's numbers, the recipes, the official logs' summary
    install_requires=cfg.get('requirements', '').split(),
    extras_require={'dev': cfg.get('dev_requirements', '').split()},
    python_requires='>=' + cfg['min_python'],
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
)
