"""The demo county (synthetic, clearly labelled): organisation, accounts and 110 incidents."""
