"""`python -m evcsm_tui`."""

from evcsm_tui.app import main

raise SystemExit(main())
