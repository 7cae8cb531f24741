"""Every error the dashboard raises, in one tree.

    TuiError                 anything the dashboard itself raises
    ├── ConfigError          a bad --mqtt-url or option: reported before the screen opens
    └── RequestError         a request to the daemon got no usable answer
        ├── NotConnected     there is no broker connection right now
        ├── Refused          the broker refused to take the request (its PUBACK reason code)
        │   └── NotAuthorised    ... because this login may not publish there (0x87)
        ├── NobodyListens    the broker took it, but no client subscribes to that topic (0x10)
        ├── RequestTimeout   the daemon did not answer within the deadline
        └── BadReply         the answer could not be decoded

A reply the daemon sends with `ok: false` is not an exception: it is an answer, and the screen
shows its message. aiomqtt's `MqttError` never leaves `client.py`: the link turns it into a
reconnect, or into `NotConnected` for a request in flight.
"""


class TuiError(Exception):
    """Base of every error the dashboard raises."""


class ConfigError(TuiError):
    """An option or environment variable is invalid."""


class RequestError(TuiError):
    """A request to the daemon got no usable answer."""


class NotConnected(RequestError):
    """There is no broker connection to send the request on."""


class Refused(RequestError):
    """The broker refused the request's publish (an MQTT 5 PUBACK reason code of 0x80 or more)."""


class NotAuthorised(Refused):
    """The broker's ACL does not let this login publish the request."""


class NobodyListens(RequestError):
    """The broker took the request, but no client (no daemon) subscribes to its topic."""


class RequestTimeout(RequestError):
    """The daemon did not answer within the deadline."""


class BadReply(RequestError):
    """The daemon's answer could not be decoded."""
