"""Reports: the sales funnel and the KPI dashboard (PRODUCT "Reports and KPIs", issue 10)."""
