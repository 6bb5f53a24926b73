"""The care calendar (PRODUCT "The care calendar"): each kind plans its outbox rows."""
