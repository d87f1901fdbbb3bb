"""Every background job (remote sources, embedding, digests, confirmation mails) on one scheduler,
used by `dailypapers worker` and by the demo (docs/architecture.md)."""
