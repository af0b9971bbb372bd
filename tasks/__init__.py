"""Built-in tasks: banner, fgvc, sat."""
