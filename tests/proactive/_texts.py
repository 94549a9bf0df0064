"""Short support texts of five steady issues, shared by the trend detection tests."""

BACKGROUND = {
    "card": [
        "my card has not arrived yet",
        "when will my new card arrive",
        "card delivery is late",
        "still waiting for the card in the post",
    ],
    "pin": [
        "how do i change my pin",
        "i forgot my pin number",
        "reset the pin on my card",
        "pin is blocked after wrong attempts",
    ],
    "transfer": [
        "my bank transfer is pending",
        "transfer to my friend has not gone through",
        "why is the transfer taking so long",
        "money transfer still pending",
    ],
    "refund": [
        "i want a refund for this purchase",
        "the merchant refund is missing",
        "refund not showing in my account",
        "how long does a refund take",
    ],
    "topup": [
        "top up failed with my card",
        "why did my top up fail",
        "top up was declined",
        "cannot top up my balance",
    ],
}
CHEQUE = [  # nothing like it before: a previously unseen issue
    "the app crashes when i scan a cheque",
    "cheque scanning crashes the app",
    "app crashed while scanning my cheque",
    "scanning a cheque makes the app crash",
    "every cheque scan crashes the app",
    "the app keeps crashing on cheque scan",
]
