"""Money: prices, limits, wallets, and the reserve-then-settle meter."""
