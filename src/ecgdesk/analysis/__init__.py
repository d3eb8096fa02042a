"""Analysis: QRS detection, beat classes and templates, rhythm and episodes, HRV, quality, strips."""
