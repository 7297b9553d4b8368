"""What the admin API's handlers share: JSON bodies and Hubster paging. Which routes need
the admin key is the route table's business (`gateway.http.routes`)."""
