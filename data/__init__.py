"""Sample data shipped with tlanalytics (installed as ``tlanalytics.data``)."""
