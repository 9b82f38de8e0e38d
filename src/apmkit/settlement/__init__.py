"""Settlement: turning contract terms and aggregate or claims-level inputs into payments, with a trace."""
