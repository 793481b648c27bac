"""pc-release: promote one exact platform-control SHA through evidence-leaving gates."""
