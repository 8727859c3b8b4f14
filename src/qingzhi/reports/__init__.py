"""Reports (研判报告): daily, weekly and monthly briefs, plan reports and station scorecards.

``qingzhi.reports.render`` is the pure rendering layer every report uses: a small document model
and its Word (GB/T 9704), PDF (LibreOffice) and HTML renderers, plus offline charts and maps.
"""
