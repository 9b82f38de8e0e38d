"""Practice finance: ledger, billing and 835 loaders, KPIs, and APM readiness."""
