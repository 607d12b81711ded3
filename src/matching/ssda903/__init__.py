"""SSDA903, the statutory looked-after children return: reading it, checking it by collection year, importing it."""
