"""Reference tables shipped with ecgdesk (codes, baseline NCCI/MUE/RVU, necessity lists)."""
