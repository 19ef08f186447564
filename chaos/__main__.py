"""``python -m chaos`` is the ``chaosdrill`` command."""

from chaos.cli.main import main

raise SystemExit(main())
