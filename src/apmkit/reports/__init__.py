"""Reports over canonical tables and results: data quality now; the HCP-LAN data-sharing reports later."""
