"""An example chaosdrill plugin: the ``example.flag`` fault and the ``example.file`` probe."""
