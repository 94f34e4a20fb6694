"""Supervision (监督管理, M22–M23): indicators per department, the Bureau's dashboard with
drill-down to the records behind each number, and the periodic public report (公示)."""
