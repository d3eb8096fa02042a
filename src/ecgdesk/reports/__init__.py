"""Reports: findings and interpretations rendered to PDF and HTML; ECG strips on the paper grid."""
