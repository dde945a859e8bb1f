"""Training both stages with Lightning: typed YAML configs (`config`), the stage modules
(`stage1`, `stage2`), the self-contained checkpoint format (`checkpoint`) and the run driver
behind `lsf-animation train` (`run`)."""
