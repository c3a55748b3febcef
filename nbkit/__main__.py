import os
import sys

# `python -m nbkit` puts the current folder first on sys.path, and the current folder is
# usually a repository: its click.py or difflib.py must not be imported in place of the real
# ones. Dropped before anything else is imported (nbkit itself is already loaded). Modules
# Python imports before this line (runpy's own: types, importlib) cannot be protected here:
# git's entry points run with -I (see nbkit/hooks/install.py), and users can type `nbkit`.
if not sys.flags.safe_path and sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from nbkit.cli.main import main  # after the sys.path fix, on purpose

sys.exit(main())
