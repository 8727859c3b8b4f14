"""The offline base map: map tiles served from a local MBTiles or PMTiles file."""
