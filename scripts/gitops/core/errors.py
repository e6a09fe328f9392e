"""The one exception type users see: an expected failure, said in one sentence."""


class GitOpsError(Exception):
    """An expected failure: the message names the thing that is wrong and the fix.

    invoke tasks let it through as a one-line message and a non-zero exit, never a traceback.
    """
