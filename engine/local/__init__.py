"""The local solve core: one scipy solve from one start, which never raises."""
