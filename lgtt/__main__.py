from lgtt.cli import main

main()
