"""Webhook delivery to the outside world: which URLs may receive (``urls``), how a delivery is
signed (``signing``, Standard Webhooks) and how it is sent (``sender``, to the checked address)."""
