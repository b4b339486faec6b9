"""Exports of every back-office list and report to .xlsx or CSV: small ones in the response, large
ones as background jobs (models, service), written in constant memory (sheet, rows).

Views call :func:`respond` (app.exports.web) to answer any rows as a file; paginated lists need
nothing: they export through their pager (app.http.SelectPage).
"""
