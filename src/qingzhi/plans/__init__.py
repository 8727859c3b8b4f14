"""Plans (规划方案): bundling, allocation, simulation and road runs on the store's data, saved."""
