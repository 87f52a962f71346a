"""Pure byte decoders, one module per device family, behind one facade.

Every decoder is a `base.Decoder` (notification bytes -> `Frame`s on the sensor clock,
malformed packets counted); `profiles.PROFILES` lists every make, how it is recognised
and which decoder reads it. No bleak import here.
"""
