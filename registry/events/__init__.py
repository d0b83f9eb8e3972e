"""What concerns a member, told to it: the event outbox, its feed and webhook deliveries."""
