"""Portal views: thin handlers that parse, call one service or the registry, render."""
