"""tests/training/ needs the torch side: collected only where its modules are installed
(support.FOLDER_NEEDS); under CI a missing one is an error."""

from support import folder_ignores

collect_ignore_glob = folder_ignores("training")
