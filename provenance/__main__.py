from __future__ import annotations

from provenance.main import main

raise SystemExit(main())
