"""Reception workflow: catalog, calendar, codes, receipts, fees."""
