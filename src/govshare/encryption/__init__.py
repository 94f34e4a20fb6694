"""Encryption at rest of the most sensitive items (S17, S20; GB/T 39786 应用和数据安全): per-resource
SM4 data keys, wrapped under the master key and a per-resource secret kept in the key vault, cell
encryption with SM4-GCM, keyed SM3 blind indexes for equality lookups, rotation, and destruction
of the keys (crypto-shredding, S28–S29)."""
