"""Release pipeline rules: stage mapping (`stages`), gates over a pipeline (`gates`), the record and its
checklist (`record`)."""
