"""Pure parsers and codecs of meter protocols: Modbus register words, IEC 62056-21, DSMR P1, wired M-Bus."""
