"""Who may read an uploaded file: one grant per upload (uploader, the order or sign-off it
belongs to); the bytes themselves live in the file store (servflow.integrations.files)."""
