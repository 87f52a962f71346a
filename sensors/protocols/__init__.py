"""Pure byte decoders, one module per device family (RawPacket -> ImuBlock)."""
