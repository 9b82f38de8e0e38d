"""APM design toolkit: the seven-element worksheet, contract drafting, capability assessment."""
