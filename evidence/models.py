"""The evidence locker (validated uploads, encryption, immutability, custody) arrives with issue 3."""
