"""The demo city (`govshare demo`): a realistic Shijiazhuang with every role, built through the
same services people use, so that everything in it is valid. Demo accounts share the password
`govshare-demo`, are flagged `is_demo`, and make production mode refuse to start.
"""
