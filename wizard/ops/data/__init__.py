"""Reference data: Hunan's regions and the first batch of clusters (附件3)."""
