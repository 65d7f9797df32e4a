"""One adapter per chat network; each turns native updates into Events and renders Replies."""
