"""Background jobs (后台任务): long computations run outside the request that asked for them."""
