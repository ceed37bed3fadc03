"""Admin reports (issue #6): figures per region, charts, spreadsheets, the audit trail."""
