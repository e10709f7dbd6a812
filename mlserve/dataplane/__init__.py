"""The one data plane: every predict route goes through :mod:`mlserve.dataplane.core`."""
