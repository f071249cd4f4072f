"""``python -m nlexnb.reports``: execute the numbered notebooks as papermill reports."""

from .run import main

raise SystemExit(main())
